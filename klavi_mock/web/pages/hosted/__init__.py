"""The hosted (WhiteLabel) journey: the Basic WhiteLabel URL, the link page behind linkURL,
the result page, App2App returns and the web tracking events the pages emit."""
