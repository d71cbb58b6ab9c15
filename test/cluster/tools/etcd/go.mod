module posture.local/etcd-bin

go 1.26.8
