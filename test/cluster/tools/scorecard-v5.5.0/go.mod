module posture.local/scorecard-v5.5.0

go 1.26.8
