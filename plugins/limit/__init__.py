"""The LIMIT diagnostic (Weller et al., "On the Theoretical Limitations of Embedding-Based Retrieval").

- :mod:`~viewrank.plugins.limit.dataset`: LIMIT-style datasets (``viewrank limit make``).
- :mod:`~viewrank.plugins.limit.free`: free-embedding capacity per dimension (``viewrank limit free``).
"""
