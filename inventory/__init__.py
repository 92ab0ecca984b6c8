"""The site inventory: YAML in NetBox's vocabulary, validated strictly into typed objects."""

from pathlib import Path

from .loader import load_inventory
from .model import Inventory
from .strict import InventoryError, LoadError

REFERENCE_DIR = Path(__file__).parent / "reference"

__all__ = ["REFERENCE_DIR", "Inventory", "InventoryError", "LoadError", "load_inventory"]
