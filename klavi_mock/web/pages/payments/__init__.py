"""The payments pages: the payer's bank (instant Pix payments: `instant.py`), the hosted
WhiteLabel payment page, and Automatic Pix's (`automatic.py`)."""
