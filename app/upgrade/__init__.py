"""Upgrading from Portus: `portus import-portus` takes over a Portus 2.4 installation (its
database, token signing key and issuer). See importer.py."""
