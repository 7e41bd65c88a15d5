package galaxy

// The well-known discovery identity. kibitz.chat's "Find a nearby call"
// probes UDP 4711 of nearby addresses with these credentials and pins this
// certificate's fingerprint, so every hub that wants to be found must present
// exactly this identity. It is public (published in kibitz-offline, MIT, and
// baked into the kibitz.chat client): it encrypts but does not authenticate.
const (
	DiscoveryUfrag    = "wbxlanhub01"
	DiscoveryPwd      = "774B1GNZgs48OidH45A7DZx"
	DiscoveryTURNUser = "wblan"
	DiscoveryTURNPass = "Sp64SHsXMZOdzT6rgYcF"
	DiscoveryPort     = 4711
	DiscoveryTURNPort = 3478
	// DiscoveryFingerprintB64 is what the client pins (SHA-256 of the
	// certificate below, unpadded base64url).
	DiscoveryFingerprintB64 = "iMQvZo7x61ukUXjDvSJnKmr3PFy6iDvHSa9XV3mb_kA"
	// TURNRealm is the realm every Kibitz hub's TURN server uses.
	TURNRealm = "kibitz"
)

// The discovery certificate (self-signed ECDSA P-256, CN witbitz-lan-hub,
// valid 2025-01-01..2045-01-01) and its key, as published.
const discoveryCertPEM = `-----BEGIN CERTIFICATE-----
MIIBITCBx6ADAgECAgEBMAoGCCqGSM49BAMCMBoxGDAWBgNVBAMTD3dpdGJpdHot
bGFuLWh1YjAeFw0yNTAxMDEwMDAwMDBaFw00NTAxMDEwMDAwMDBaMBoxGDAWBgNV
BAMTD3dpdGJpdHotbGFuLWh1YjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABHpo
I8dNgYVDP+qv3iGyNqyghFAhqWSVL7PXamaYpLrII4ouPQXnl9qxY2z0eDXGQhud
T6A+VaBOGD9WlS0xAlwwCgYIKoZIzj0EAwIDSQAwRgIhAPL/RjiRTN366G5/jC+d
oUsXk/Hs/1GUbtCjPCnfqmFgAiEA0kudCGkhWx4m28XymYYGwSf75I/EJ8SlGtJU
6gXsj2s=
-----END CERTIFICATE-----
`

const discoveryKeyPEM = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIKTavAkZX7r8Yi6oihvA4o3uvdXK0MYirfdKqqRNnBttoAoGCCqGSM49
AwEHoUQDQgAEemgjx02BhUM/6q/eIbI2rKCEUCGpZJUvs9dqZpikusgjii49BeeX
2rFjbPR4NcZCG51PoD5VoE4YP1aVLTECXA==
-----END EC PRIVATE KEY-----
`

// Discovery returns the well-known discovery identity.
func Discovery() (*Identity, error) {
	f := identityFile{
		Ufrag:    DiscoveryUfrag,
		Pwd:      DiscoveryPwd,
		TURNUser: DiscoveryTURNUser,
		TURNPass: DiscoveryTURNPass,
		CertPEM:  discoveryCertPEM,
		KeyPEM:   discoveryKeyPEM,
	}
	return f.identity("discovery")
}
