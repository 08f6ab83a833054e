"""The fake bank's payment pages: the payer authorises an instant payment or an Automatic Pix consent."""
