"""Pages for people: the fake bank and Klavi's LGPD step (`bank/`), the hosted WhiteLabel
journey (`hosted/`) and the QA cockpit (`cockpit/`), over one set of templates and assets."""
