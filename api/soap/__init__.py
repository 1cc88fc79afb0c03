"""sluis's SOAP API at ``/soap``, compatible with Deployteq's ("Clang" API, WSDL 1.24)."""
