"""Runs the tests under tests/ and writes a JUnit XML report.

Each function named test_* in tests/test_*.py is a test, run in the order it
is defined; its arguments are filled by calling the module's functions of
the same names, as pytest fixtures are. A test that raises fails, a fixture
that raises is an error, and `--junitxml=FILE` writes the report in the
shape `pytest --junitxml` gives. The exit code is 1 when anything failed.
"""

import importlib
import inspect
import pathlib
import sys
import time
import traceback
import xml.etree.ElementTree as ET


def run(module, suite, counts):
    for name, test in list(vars(module).items()):
        if not (name.startswith("test_") and inspect.isfunction(test)):
            continue
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=module.__name__, name=name)
        began = time.monotonic()
        outcome = "PASSED"
        try:
            args = [getattr(module, p)() for p in inspect.signature(test).parameters]
        except Exception as error:
            counts["errors"] += 1
            outcome = "ERROR"
            ET.SubElement(case, "error", message=repr(error)).text = traceback.format_exc()
        else:
            try:
                test(*args)
            except Exception as error:
                counts["failures"] += 1
                outcome = "FAILED"
                message = f"{type(error).__name__}: {error}"
                ET.SubElement(case, "failure", message=message).text = traceback.format_exc()
        case.set("time", f"{time.monotonic() - began:.3f}")
        print(f"{module.__name__.replace('.', '/')}.py::{name} {outcome}")
        if outcome != "PASSED":
            print(traceback.format_exc())


def main(argv):
    report = next((a.split("=", 1)[1] for a in argv if a.startswith("--junitxml=")), None)
    root = pathlib.Path(__file__).resolve().parent
    sys.path.insert(0, str(root))
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", name="run_tests")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    began = time.monotonic()
    for path in sorted((root / "tests").glob("test_*.py")):
        name = f"tests.{path.stem}"
        try:
            module = importlib.import_module(name)
        except Exception as error:
            counts["tests"] += 1
            counts["errors"] += 1
            case = ET.SubElement(suite, "testcase", classname=name, name="collection")
            ET.SubElement(case, "error", message=repr(error)).text = traceback.format_exc()
            print(f"{name} ERROR while collecting\n{traceback.format_exc()}")
            continue
        run(module, suite, counts)
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{time.monotonic() - began:.3f}")
    if report:
        ET.ElementTree(suites).write(report, encoding="utf-8", xml_declaration=True)
    failed = counts["failures"] + counts["errors"]
    print(f"{counts['tests'] - failed} passed, {counts['failures']} failed, {counts['errors']} errors")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
