"""OpenSearch adapter: a real local node assembled from Maven Central, and neural search on it.

opensearch-py is imported lazily, inside the functions that talk to the node.
"""
