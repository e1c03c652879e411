"""Runs the in-Blender tests (blender_test_*.py) inside real background Blender:

    blender -b --factory-startup --python-exit-code 1 --python addon/tests/run_in_blender.py
"""

import os
import sys
import unittest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TESTS_DIR)

suite = unittest.defaultTestLoader.discover(TESTS_DIR, pattern="blender_test_*.py", top_level_dir=TESTS_DIR)
outcome = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
sys.stdout.flush()
if not outcome.wasSuccessful():
    sys.exit(1)
