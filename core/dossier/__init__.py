"""The single dossier: identity, profile, contacts and activities of one job seeker."""
