package main

import (
	"math/rand/v2"
	"strconv"
)

const (
	digits     = "0123456789"
	hexDigits  = "0123456789abcdef"
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// routes are the API's resources. Paths carry the identifiers (numbers,
// UUIDs, long hex, prefixed ids) that route templating has to recognise.
var routes = []route{
	{18, []string{"GET"}, func(r *rand.Rand) string { return "/v1/orders/" + num(r, 1e7) }, 400, 2500},
	{8, []string{"GET", "POST"}, fixed("/v1/orders"), 2000, 40000},
	{10, []string{"GET", "PATCH", "PUT"}, func(r *rand.Rand) string { return "/v1/users/" + uuid(r) }, 300, 1500},
	{12, []string{"GET"}, func(r *rand.Rand) string { return "/v1/products/" + num(r, 50000) }, 800, 4000},
	{9, []string{"GET"}, fixed("/v1/products"), 5000, 60000},
	{4, []string{"GET", "POST"}, func(r *rand.Rand) string { return "/v1/products/" + num(r, 50000) + "/reviews" }, 1000, 20000},
	{6, []string{"POST", "GET"}, func(r *rand.Rand) string { return "/v1/carts/" + randString(r, hexDigits, 24) + "/items" }, 200, 3000},
	{3, []string{"DELETE"}, func(r *rand.Rand) string {
		return "/v1/carts/" + randString(r, hexDigits, 24) + "/items/" + num(r, 1000)
	}, 0, 0},
	{7, []string{"GET"}, fixed("/v1/search"), 3000, 30000},
	{4, []string{"POST"}, fixed("/v1/payments"), 200, 800},
	{3, []string{"GET"}, func(r *rand.Rand) string { return "/v1/payments/pay_" + randString(r, alnum, 24) }, 300, 900},
	{3, []string{"GET"}, func(r *rand.Rand) string {
		return "/v2/accounts/" + num(r, 1e6) + "/invoices/" + num(r, 1e8)
	}, 600, 3000},
	{5, []string{"OPTIONS"}, func(r *rand.Rand) string { return "/v1/orders/" + num(r, 1e7) }, 0, 0},
	{4, []string{"GET"}, fixed("/health"), 15, 40},
	{2, []string{"POST"}, fixed("/v1/webhooks/stripe"), 2, 20},
	{2, []string{"GET"}, func(r *rand.Rand) string {
		return "/v1/files/" + randString(r, lowerAlnum, 8) + "/" + pick(r, []string{"report.pdf", "export.csv", "avatar.png"})
	}, 10000, 500000},
}

// userAgents mixes desktop and mobile browsers, mobile apps, SDKs, tools
// and crawlers, weighted by repetition.
var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.102 Mobile Safari/537.36",
	"Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1",
	"ShopApp/5.12.0 (com.example.shop; build:5120; iOS 18.1.0) Alamofire/5.9.1",
	"ShopApp/5.11.3 (Android 14; Pixel 8 Pro; Build/AP2A.240905.003) okhttp/4.12.0",
	"okhttp/4.12.0",
	"okhttp/4.9.3",
	"python-requests/2.31.0",
	"Dart/3.5 (dart:io)",
	"python-requests/2.32.3",
	"axios/1.7.7",
	"node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
	"Go-http-client/2.0",
	"curl/8.10.1",
	"PostmanRuntime/7.42.0",
	"aws-sdk-java/2.29.6 Linux/6.1.112-124.190.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS Java/21.0.5",
	"Boto3/1.35.54 md/Botocore#1.35.54 ua/2.0 os/linux#6.1.112 md/arch#x86_64 lang/python#3.12.7",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
	"Zapier",
	"Stripe/1.0 (+https://stripe.com/docs/webhooks)",
}

var iamNames = []string{"ci-deployer", "etl-worker", "reporting", "partner-sync", "backoffice", "alice", "bob"}

func fixed(p string) func(*rand.Rand) string { return func(*rand.Rand) string { return p } }

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

func num(r *rand.Rand, n int) string { return strconv.Itoa(1 + r.IntN(n)) }

func randString(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// uuid returns a random version-4 UUID in canonical form.
func uuid(r *rand.Rand) string {
	var u [16]byte
	lo, hi := r.Uint64(), r.Uint64()
	for i := range 8 {
		u[i], u[8+i] = byte(lo>>(8*i)), byte(hi>>(8*i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	b := make([]byte, 0, 36)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return string(b)
}

// randIP returns a public-looking client address: mostly IPv4, some IPv6.
// The first octet avoids 0, 10, 127 and the multicast and reserved ranges.
func randIP(r *rand.Rand) string {
	if r.IntN(10) == 0 {
		b := []byte("2a02")
		for range 7 {
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(r.IntN(0x10000)), 16)
		}
		return string(b)
	}
	first := 1 + r.IntN(222)
	for first == 10 || first == 127 || first == 172 || first == 192 || first == 100 {
		first = 1 + r.IntN(222)
	}
	return strconv.Itoa(first) + "." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(1+r.IntN(254))
}
