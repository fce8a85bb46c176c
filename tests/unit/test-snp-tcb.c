/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the TCB text reader and writer (cp_snp_tcb_parse / _format). */
#include "basic/cleanup.h"
#include "confpool/snp_report.h"
#include "tests.h"

static void expect_tcb(const cp_snp_tcb *t, unsigned bl, unsigned tee, unsigned snp, unsigned ucode, bool has_fmc,
                       unsigned fmc) {
        ASSERT_EQ(t->bl, bl);
        ASSERT_EQ(t->tee, tee);
        ASSERT_EQ(t->snp, snp);
        ASSERT_EQ(t->ucode, ucode);
        ASSERT_EQ(t->has_fmc, has_fmc);
        ASSERT_EQ(t->fmc, fmc);
}

TEST(parse_milan_genoa) {
        cp_snp_tcb t;
        ASSERT_OK(cp_snp_tcb_parse("bl=3,tee=0,snp=8,ucode=115", CP_SNP_GEN_MILAN, &t));
        expect_tcb(&t, 3, 0, 8, 115, false, 0);
        /* any order, full range, leading zeros within three digits */
        ASSERT_OK(cp_snp_tcb_parse("ucode=255,snp=000,tee=7,bl=10", CP_SNP_GEN_GENOA, &t));
        expect_tcb(&t, 10, 7, 0, 255, false, 0);
        ASSERT_U64_EQ(cp_snp_tcb_encode(&t, CP_SNP_GEN_GENOA), UINT64_C(0xff0000000000070a));
}

TEST(parse_turin_fmc) {
        cp_snp_tcb t;
        ASSERT_OK(cp_snp_tcb_parse("bl=1,tee=2,snp=3,ucode=4,fmc=5", CP_SNP_GEN_TURIN, &t));
        expect_tcb(&t, 1, 2, 3, 4, true, 5);
        ASSERT_U64_EQ(cp_snp_tcb_encode(&t, CP_SNP_GEN_TURIN), UINT64_C(0x0400000003020105));
        ASSERT_OK(cp_snp_tcb_parse("fmc=9,bl=1,tee=2,snp=3,ucode=4", CP_SNP_GEN_TURIN, &t));
        expect_tcb(&t, 1, 2, 3, 4, true, 9);
        /* Turin without fmc: the component is there, at 0 */
        ASSERT_OK(cp_snp_tcb_parse("bl=1,tee=2,snp=3,ucode=4", CP_SNP_GEN_TURIN, &t));
        expect_tcb(&t, 1, 2, 3, 4, true, 0);
}

TEST(parse_any_generation) {
        cp_snp_tcb t;
        ASSERT_OK(cp_snp_tcb_parse("bl=1,tee=2,snp=3,ucode=4", CP_SNP_GEN_UNKNOWN, &t));
        expect_tcb(&t, 1, 2, 3, 4, false, 0);
        /* fmc only where the generation is known to have it */
        ASSERT_ERR(cp_snp_tcb_parse("bl=1,tee=2,snp=3,ucode=4,fmc=6", CP_SNP_GEN_UNKNOWN, &t), CP_EFORMAT);
}

TEST(parse_refusals) {
        static const struct {
                const char *text;
                cp_snp_generation gen;
        } bad[] = {
                { "", CP_SNP_GEN_MILAN },
                { "bl=3,tee=0,snp=8", CP_SNP_GEN_MILAN },                  /* missing ucode */
                { "bl=3,tee=0,snp=8,ucode=115,xyz=1", CP_SNP_GEN_MILAN },  /* unknown component */
                { "BL=3,tee=0,snp=8,ucode=115", CP_SNP_GEN_MILAN },        /* names are lower case */
                { "bl=3,tee=0,snp=8,ucode=115,bl=4", CP_SNP_GEN_MILAN },   /* duplicate */
                { "bl=3,tee=0,snp=8,ucode=115,fmc=1,fmc=1", CP_SNP_GEN_TURIN },
                { "bl=3,tee=0,snp=8,ucode=256", CP_SNP_GEN_MILAN },        /* out of range */
                { "bl=3,tee=0,snp=8,ucode=1000", CP_SNP_GEN_MILAN },
                { "bl=3,tee=0,snp=8,ucode=99999999999999999999", CP_SNP_GEN_MILAN },
                { "bl=-1,tee=0,snp=8,ucode=1", CP_SNP_GEN_MILAN },         /* no sign */
                { "bl=+1,tee=0,snp=8,ucode=1", CP_SNP_GEN_MILAN },
                { "bl= 1,tee=0,snp=8,ucode=1", CP_SNP_GEN_MILAN },         /* no space */
                { "bl=0x1,tee=0,snp=8,ucode=1", CP_SNP_GEN_MILAN },        /* decimal only */
                { "bl=3,tee=0,snp=8,ucode=115,", CP_SNP_GEN_MILAN },       /* trailing junk */
                { "bl=3,tee=0,snp=8,ucode=115 ", CP_SNP_GEN_MILAN },
                { "bl=3,tee=0,snp=8,ucode=115x", CP_SNP_GEN_MILAN },
                { "bl=3,tee=0,snp=8,ucode=115;fmc=1", CP_SNP_GEN_TURIN },
                { ",bl=3,tee=0,snp=8,ucode=115", CP_SNP_GEN_MILAN },       /* empty fields */
                { "bl=3,,tee=0,snp=8,ucode=115", CP_SNP_GEN_MILAN },
                { "bl=,tee=0,snp=8,ucode=115", CP_SNP_GEN_MILAN },
                { "bl,tee=0,snp=8,ucode=115", CP_SNP_GEN_MILAN },
                { "bl=3,tee=0,snp=8,ucode=115,fmc=1", CP_SNP_GEN_MILAN },  /* fmc is Turin's */
                { "bl=3,tee=0,snp=8,ucode=115,fmc=0", CP_SNP_GEN_GENOA },
                { "bl=3,tee=0,snp=8,ucode=115,fmc=256", CP_SNP_GEN_TURIN },
                { "fmc=1", CP_SNP_GEN_TURIN },
        };
        cp_snp_tcb t = { .bl = 42 };
        for (size_t i = 0; i < CP_ELEMENTSOF(bad); i++) {
                int r = cp_snp_tcb_parse(bad[i].text, bad[i].gen, &t);
                if (r != CP_EFORMAT)
                        cp_test_fail(__FILE__, __LINE__, "\"%s\" (%s): expected CP_EFORMAT, got %d", bad[i].text,
                                     cp_snp_generation_name(bad[i].gen), r);
                ASSERT_TRUE(cp_error_message()[0] != '\0');
        }
        ASSERT_EQ(t.bl, 42); /* untouched */
        ASSERT_ERR(cp_snp_tcb_parse(NULL, CP_SNP_GEN_MILAN, &t), CP_EINVAL);
        ASSERT_ERR(cp_snp_tcb_parse("bl=3,tee=0,snp=8,ucode=115", CP_SNP_GEN_MILAN, NULL), CP_EINVAL);
        ASSERT_ERR(cp_snp_tcb_parse("bl=3,tee=0,snp=8,ucode=115", _CP_SNP_GEN_MAX, &t), CP_EINVAL);
        ASSERT_ERR(cp_snp_tcb_parse("bl=3,tee=0,snp=8,ucode=115", _CP_SNP_GEN_INVALID, &t), CP_EINVAL);
}

TEST(format_round_trip) {
        char buf[CP_SNP_TCB_TEXT_MAX];
        cp_snp_tcb t = { .bl = 3, .tee = 0, .snp = 8, .ucode = 115 }, back;
        ASSERT_OK(cp_snp_tcb_format(&t, buf, sizeof(buf)));
        ASSERT_STREQ(buf, "bl=3,tee=0,snp=8,ucode=115");
        ASSERT_OK(cp_snp_tcb_parse(buf, CP_SNP_GEN_MILAN, &back));
        ASSERT_MEMEQ(&back, &t, sizeof(t));
        cp_snp_tcb u = { .bl = 255, .tee = 255, .snp = 255, .ucode = 255, .fmc = 255, .has_fmc = true };
        ASSERT_OK(cp_snp_tcb_format(&u, buf, sizeof(buf)));
        ASSERT_STREQ(buf, "bl=255,tee=255,snp=255,ucode=255,fmc=255");
        ASSERT_OK(cp_snp_tcb_parse(buf, CP_SNP_GEN_TURIN, &back));
        ASSERT_MEMEQ(&back, &u, sizeof(u));
        ASSERT_ERR(cp_snp_tcb_format(&u, buf, 10), CP_ETOOBIG);
        ASSERT_STREQ(buf, "");
        ASSERT_ERR(cp_snp_tcb_format(NULL, buf, sizeof(buf)), CP_EINVAL);
}
