import os
import sys

# The tests import the `mcjepa` package from Reference/ without installing it.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
