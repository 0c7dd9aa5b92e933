"""pytest plugin (opt-in with --rai-policy): policy files become test items, one per rule."""


def pytest_addoption(parser):
    group = parser.getgroup("rai-policy", "Responsible-AI policy checks")
    group.addoption("--rai-policy", action="store_true", default=False, help="collect rai-policy policy files as tests")
