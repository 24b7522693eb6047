#!/usr/bin/perl
# debhelper sequence addon "immunix-sign": CryptoMark-sign every ELF
# program and shared library of each package after dh_strip, so the
# signature covers the stripped bytes that are shipped (docs/cryptomark.md).
#
#   %:
#   	dh $@ --with immunix-sign
#
# or Build-Depends: dh-sequence-immunix-sign. The key is IMMUNIX_SIGN_KEY.
use warnings;
use strict;
use Debian::Debhelper::Dh_Lib;

insert_after('dh_strip', 'dh_immunix_sign');

1;
