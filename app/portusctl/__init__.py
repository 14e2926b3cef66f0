"""portusctl: the command-line client of Portus's REST API (a drop-in for openSUSE/portusctl
v0.1.0). It talks to a server over HTTP only and imports nothing else of this project."""
