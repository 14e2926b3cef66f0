"""Everything that talks to the registry: its client, its events, the catalog sync, the
garbage collector, registry-side deletion and the registry records themselves."""
