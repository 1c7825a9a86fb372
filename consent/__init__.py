"""Consent: the purpose catalogue, consent records and their state machine, receipts."""
