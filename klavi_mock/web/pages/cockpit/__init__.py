"""The QA cockpit: the dashboard pages at /__mock/ui, the offline API reference at
/__mock/docs, and the control-API endpoints the dashboard needs (control.py).

The pages are a thin layer over the control API: their server side asks the control API's
own handlers (control_client.py) and renders what they answer; the buttons call the
control API from the browser (static/cockpit.js). There is no other path to the state.
"""
