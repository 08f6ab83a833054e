"""The fake bank, the hosted journey and the cockpit's pages, in-process over HTTP."""
