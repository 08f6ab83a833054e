"""Report products: the catalogue and the generator of report webhook bodies (no HTTP)."""

from klavi_mock.domain.reports.catalog import ECO_PRODUCTS, PERMISSIONS, PRODUCTS, Product, products_for
from klavi_mock.domain.reports.generator import ReportConsent, ReportLink, build_report, report_id

__all__ = [
    "ECO_PRODUCTS",
    "PERMISSIONS",
    "PRODUCTS",
    "Product",
    "ReportConsent",
    "ReportLink",
    "build_report",
    "products_for",
    "report_id",
]
