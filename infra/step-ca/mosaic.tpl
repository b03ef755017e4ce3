{{- /*
  Mosaic Federation X.509 template for the gateway's JWK provisioner (see README.md).
  A token with a "mosaic" claim asks for a peer's client certificate: CN = the peer name
  (token sub), no SANs, clientAuth, and the two Mosaic extensions, non-critical, whose DER
  values (base64) the gateway computed and will compare byte for byte after issuance.
  Any other token from this provisioner is the gateway's own TLS server certificate.
*/ -}}
{{- if .Token.mosaic }}
{
  "subject": {"commonName": {{ toJson .Subject.CommonName }}},
  "keyUsage": ["digitalSignature"],
  "extKeyUsage": ["clientAuth"],
  "basicConstraints": {"isCA": false},
  "extensions": [
    {"id": "1.3.6.1.4.1.99999.1", "critical": false, "value": {{ toJson .Token.mosaic.grantIdDer }}},
    {"id": "1.3.6.1.4.1.99999.2", "critical": false, "value": {{ toJson .Token.mosaic.subjectUserIdDer }}}
  ]
}
{{- else }}
{
  "subject": {"commonName": {{ toJson .Subject.CommonName }}},
  "sans": {{ toJson .SANs }},
  "keyUsage": ["digitalSignature"],
  "extKeyUsage": ["serverAuth"],
  "basicConstraints": {"isCA": false}
}
{{- end }}
