"""The warehouse: SQLite embedded by default, PostgreSQL in production.

Layers: ``load_`` (audit of every file received), ``stg_<source>`` (typed partner rows),
``ref_<source>`` (reference data), ``mart_`` (computed indicator values).
"""

from .engine import WarehouseUnavailable, connect_warehouse, init_warehouse
from .schema import table_for, warehouse_metadata
from .session import open_warehouse

__all__ = [
    "WarehouseUnavailable",
    "connect_warehouse",
    "init_warehouse",
    "open_warehouse",
    "table_for",
    "warehouse_metadata",
]
