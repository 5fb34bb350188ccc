"""Exercise 06's camera capstone: frames from an MJPEG stream or the browser's camera.

    config.py    the app's TOML config file (stream URL, frames, interval, threshold, store)
    inputs.py    what comes in from outside: names, frames, store and image paths, checked
    stream.py    an MJPEG (multipart/x-mixed-replace) stream reader, bounded and with timeouts
    service.py   register / login / identify / people / remove from frames, on the selected tree
    server.py    ``facekit app serve``: one local web page (page.html) and its JSON endpoints

The command-line side (``--stream`` register and login, ``serve``) is facekit/cli/camera.py:
this package does not import the CLI.

Nothing here imports torch at import time: argument and input errors come back at once.
"""
