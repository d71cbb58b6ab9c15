module posture.local/httpget

go 1.26
