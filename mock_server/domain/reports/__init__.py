"""Report products: the catalogue and the generator of report webhook bodies (no HTTP)."""

from .catalog import PERMISSIONS, PRODUCTS, Product, products_for
from .generator import ReportConsent, ReportLink, build_report, report_id

__all__ = ["PERMISSIONS", "PRODUCTS", "Product", "ReportConsent", "ReportLink", "build_report", "products_for",
           "report_id"]
