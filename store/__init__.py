"""xstilts run store: catalog, published results, runs and the analysis over them."""

from store.errors import StoreError

__all__ = ["StoreError"]
