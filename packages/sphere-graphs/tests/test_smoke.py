import numpy as np
import sphere_graphs


def test_version():
    assert sphere_graphs.__version__ == "0.1.0"
