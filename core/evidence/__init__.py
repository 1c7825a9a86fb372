"""The attestation of active job search ("attestation de recherche active d'emploi"): a document a
seeker hands to whoever checks their job search, which anyone can verify (docs/activity.md)."""
