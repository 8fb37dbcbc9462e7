"""The transparency log: an append-only RFC 6962 Merkle tree with signed tree heads."""
