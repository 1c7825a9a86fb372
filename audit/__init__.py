"""Audit: the append-only access log, its Merkle tree, signed checkpoints, proofs, verification."""
