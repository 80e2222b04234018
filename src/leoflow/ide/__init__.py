"""Lite's /ide editor: its front-end sources (frontend/), built by
scripts/build-ide.sh into var/ide/ and served same-origin by the api-gateway's
/ide routes (services/api-gateway/.../routes/ide.py), behind the UI's login."""
