"""The dossier core: app factory, dossier domain, storage, crypto, identity, access policy, HTTP API."""
