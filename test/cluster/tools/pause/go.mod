module posture.local/pause

go 1.26
