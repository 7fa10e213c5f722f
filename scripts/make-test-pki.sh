#!/bin/sh
# Creates a complete ISO 15118-2 test PKI with the OpenSSL command line, in the layout of
# ISO 15118-2 Annex F (and of Josev's create_certs.sh): every key ECDSA on secp256r1
# (prime256v1), every signature ECDSA with SHA-256.
#
#   V2G root ─ CPO Sub-CA 1 ─ CPO Sub-CA 2 ─ SECC certificate       (TLS server, the charger)
#            └ CPS Sub-CA 1 ─ CPS Sub-CA 2 ─ CPS leaf               (signs CertificateInstallationRes)
#   OEM root ─ OEM Sub-CA 1 ─ OEM Sub-CA 2 ─ OEM provisioning cert  (the car's factory identity)
#   MO root  ─ MO Sub-CA 1  ─ MO Sub-CA 2  ─ contract certificate   (Plug & Charge, CN = eMAID)
#
# Usage: scripts/make-test-pki.sh DIR [EMAID] [EVSEID]
#        CURVE=secp521r1 DIGEST=sha512 scripts/make-test-pki.sh DIR   (ISO 15118-20's ECDSA
#        profile: every key on secp521r1, every certificate signed with SHA-512)
# Writes into DIR:
#   v2g_root.pem, oem_root.pem, mo_root.pem           trust anchors
#   secc_chain.pem (leaf, CPO Sub-CA 2, Sub-CA 1), secc.key       for TlsServerConfig
#   contract_chain.pem (leaf, MO Sub-CA 2, Sub-CA 1), contract.key for the car's PnC
#   oem_prov_chain.pem, oem_prov.key, cps_chain.pem, cps.key
# Keys are unencrypted: this is a test PKI, never use it in a real charger or car.
set -eu

DIR=${1:?usage: make-test-pki.sh DIR [EMAID] [EVSEID]}
EMAID=${2:-DEPNXC000000001}
EVSEID=${3:-DE*PNX*E12345*1}
DAYS_ROOT=3650
DAYS_SUB=1460
DAYS_LEAF=365
CURVE=${CURVE:-prime256v1}
DIGEST=${DIGEST:-sha256}

mkdir -p "$DIR"
cd "$DIR"
EXT=$(mktemp)
trap 'rm -f "$EXT"' EXIT

cat > "$EXT" <<'EOF'
[root]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[sub1]
basicConstraints = critical, CA:true, pathlen:1
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[sub2]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf_tls]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyAgreement
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

key() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:$CURVE -out "$1.key" 2>/dev/null
}

# root NAME CN
root() {
    key "$1"
    openssl req -new -x509 -key "$1.key" -$DIGEST -days $DAYS_ROOT -subj "/CN=$2/O=ccsplc test PKI/DC=V2G" \
        -extensions root -config "$EXT" -out "$1.pem" 2>/dev/null
}

# issue NAME CN ISSUER SECTION DAYS
issue() {
    key "$1"
    openssl req -new -key "$1.key" -$DIGEST -subj "/CN=$2/O=ccsplc test PKI" -out "$1.csr" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -$DIGEST \
        -days "$5" -extfile "$EXT" -extensions "$4" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr"
}

root v2g_root "V2GRootCA"
issue cpo_sub1 "CPOSubCA1" v2g_root sub1 $DAYS_SUB
issue cpo_sub2 "CPOSubCA2" cpo_sub1 sub2 $DAYS_SUB
issue secc "$EVSEID" cpo_sub2 leaf_tls $DAYS_LEAF
issue cps_sub1 "CPSSubCA1" v2g_root sub1 $DAYS_SUB
issue cps_sub2 "CPSSubCA2" cps_sub1 sub2 $DAYS_SUB
issue cps "CPS leaf" cps_sub2 leaf $DAYS_LEAF

root oem_root "OEMRootCA"
issue oem_sub1 "OEMSubCA1" oem_root sub1 $DAYS_SUB
issue oem_sub2 "OEMSubCA2" oem_sub1 sub2 $DAYS_SUB
issue oem_prov "WMIV2GOEMPROV01" oem_sub2 leaf $DAYS_LEAF

root mo_root "MORootCA"
issue mo_sub1 "MOSubCA1" mo_root sub1 $DAYS_SUB
issue mo_sub2 "MOSubCA2" mo_sub1 sub2 $DAYS_SUB
issue contract "$EMAID" mo_sub2 leaf $DAYS_LEAF

cat secc.pem cpo_sub2.pem cpo_sub1.pem > secc_chain.pem
cat cps.pem cps_sub2.pem cps_sub1.pem > cps_chain.pem
cat oem_prov.pem oem_sub2.pem oem_sub1.pem > oem_prov_chain.pem
cat contract.pem mo_sub2.pem mo_sub1.pem > contract_chain.pem
rm -f ./*.srl

# Check what we made.
openssl verify -CAfile v2g_root.pem -untrusted cpo_sub1.pem -untrusted cpo_sub2.pem secc.pem >/dev/null
openssl verify -CAfile mo_root.pem -untrusted mo_sub1.pem -untrusted mo_sub2.pem contract.pem >/dev/null
openssl verify -CAfile oem_root.pem -untrusted oem_sub1.pem -untrusted oem_sub2.pem oem_prov.pem >/dev/null
echo "test PKI ($CURVE, $DIGEST) in $DIR (eMAID $EMAID, EVSEID $EVSEID)"
