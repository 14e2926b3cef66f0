"""This implementation's version, as the API and the web UI report it."""

VERSION = "2.4.0-py"
