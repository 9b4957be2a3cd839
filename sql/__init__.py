"""Numbered ClickHouse migrations, shipped as package data so an installed package finds them."""
