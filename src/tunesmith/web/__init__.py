"""The local web studio: ``tunesmith web`` (see ``server.create_app`` and ``server.serve``)."""
