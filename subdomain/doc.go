// Package subdomain is the profile model of immunix's SubDomain
// confinement and its two text formats: the native SubDomain syntax
// (Parse, Format) and AppArmor (FormatAppArmor).
//
// A profile lists what one program may touch, one rule a line, with a
// "# PROGRAM VERSION" header:
//
//	# /usr/lib/cgi-bin/shop 1
//	/etc/ld.so.cache r
//	/usr/lib/x86_64-linux-gnu/libc.so.* rm
//	/var/lib/shop/orders/* rwc
//	/usr/lib/shop/pay-helper px {
//		/etc/shop/merchant.key r
//	}
//	network tcp connect 443
//
// Modes: r read, w write, c create/remove/rename the name, m map
// executable, ix execute under the same profile, px execute under the
// nested profile that follows in braces. Patterns use * (one component),
// ** (any depth), ? and {a,b}, and the variables @{pid} and @{HOME}.
//
//	p, err := subdomain.Parse("shop.sd", data)
//	if err != nil {
//		return err // "shop.sd:4:12: unknown mode 'q' (want r, w, c, m, ix or px)"
//	}
//	ok, _ := p.Allows("/etc/ld.so.cache", subdomain.Read)
package subdomain
