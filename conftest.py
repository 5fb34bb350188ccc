pytest_plugins = ["facekit.pytest_plugin"]
