* #variable= 41 #constraint= 40
* original variables: 41 clauses: 92
* this file has been dumped by CuPaCD: cupacd 1.1.0 core debbd35
* CNF name: /projects/p_sat/CNF/WithoutSource/ProofComplexity/fixed-bandwidth-10.cnf.gz
* used cardinality detection: 1
* semantic detection: 1
* found constraints: 40
* parsing and detection tool 0 seconds
* used command line:  ./cupacd-core -pb_dump=ProofComplexity/fixed-bandwidth-10.cnf.gz-extracted.pb /projects/p_sat/CNF/WithoutSource/ProofComplexity/fixed-bandwidth-10.cnf.gz -card-Elimit=50000000 -card-Ylimit=50000000
1 x1 +1 x2 +1 x3 +1 x4 +1 x5  >= 3 ;
-1 x1 -1 x14 -1 x30 -1 x38  >= -2 ;
-1 x2 -1 x6 -1 x18 -1 x34  >= -2 ;
-1 x3 -1 x11 -1 x15 -1 x26  >= -2 ;
-1 x4 -1 x21 -1 x28 -1 x32  >= -2 ;
-1 x5 -1 x13 -1 x29 -1 x37 -1 x41  >= -2 ;
1 x6 +1 x7 +1 x8 +1 x9  >= 2 ;
-1 x7 -1 x10 -1 x22 -1 x39  >= -2 ;
-1 x8 -1 x16 -1 x19 -1 x31  >= -2 ;
-1 x9 -1 x25 -1 x33 -1 x36  >= -2 ;
1 x10 +1 x11 +1 x12 +1 x13  >= 2 ;
-1 x12 -1 x20 -1 x23 -1 x35  >= -2 ;
1 x14 +1 x15 +1 x16 +1 x17  >= 2 ;
-1 x17 -1 x24 -1 x27 -1 x40  >= -2 ;
1 x18 +1 x19 +1 x20 +1 x21  >= 2 ;
1 x22 +1 x23 +1 x24 +1 x25  >= 2 ;
1 x26 +1 x27 +1 x28 +1 x29  >= 2 ;
1 x30 +1 x31 +1 x32 +1 x33  >= 2 ;
1 x34 +1 x35 +1 x36 +1 x37  >= 2 ;
1 x38 +1 x39 +1 x40 +1 x41  >= 2 ;
1 x22 +1 x23 +1 x25 +1 x24  >= 2 ;
1 x19 +1 x20 +1 x21 +1 x18  >= 2 ;
1 x15 +1 x16 +1 x17 +1 x14  >= 2 ;
1 x11 +1 x12 +1 x13 +1 x10  >= 2 ;
1 x7 +1 x8 +1 x9 +1 x6  >= 2 ;
1 x3 +1 x4 +1 x5 +1 x1 +1 x2  >= 3 ;
-1 x29 -1 x37 -1 x41 -1 x13 -1 x5  >= -2 ;
-1 x33 -1 x36 -1 x25 -1 x9  >= -2 ;
-1 x28 -1 x32 -1 x21 -1 x4  >= -2 ;
-1 x27 -1 x40 -1 x24 -1 x17  >= -2 ;
-1 x35 -1 x23 -1 x20 -1 x12  >= -2 ;
-1 x31 -1 x19 -1 x16 -1 x8  >= -2 ;
-1 x26 -1 x15 -1 x11 -1 x3  >= -2 ;
-1 x39 -1 x22 -1 x10 -1 x7  >= -2 ;
-1 x34 -1 x18 -1 x6 -1 x2  >= -2 ;
-1 x30 -1 x38 -1 x14 -1 x1  >= -2 ;
1 x41 +1 x40 +1 x39 +1 x38  >= 2 ;
1 x37 +1 x36 +1 x35 +1 x34  >= 2 ;
1 x33 +1 x32 +1 x31 +1 x30  >= 2 ;
1 x29 +1 x28 +1 x27 +1 x26  >= 2 ;