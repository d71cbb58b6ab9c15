// An HTTPS GET from inside a pod, for the real-node tier: prints the status and body of the URL
// in os.Args[1], trusting the CAs of SSL_CERT_FILE (Go's crypto/x509 reads it); exit 1 on error.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Get(os.Args[1])
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	fmt.Printf("%d %s\n", res.StatusCode, body)
}
