"""LDAP: directory logins, the local accounts they create, and the group -> team sync."""
