pytest_plugins = ["leoflow_common.testing.pytest_plugin"]
