"""Evaluation: distribution distances (KID, FID), landmark error, and (later) identity and attribute metrics."""

from toonbridge.eval.distribution import KID, fid, kid

__all__ = ["KID", "fid", "kid"]
