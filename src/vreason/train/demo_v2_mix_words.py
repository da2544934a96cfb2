"""What each follow-up mix of demo_v2_mixes.MIXES is, in the model card's words (train/demo_card.py writes them
into the card's list of runs). Every mix has an entry (a test checks); the words say what is drawn new and what
is sampled, as the mix's definition does.
"""

from __future__ import annotations

MIX_WORDS = {
    "changes": "4,000 new clips where one shape appears or disappears, with 7,400 sampled pictures and clips",
    "clips": "every clip with 2,500 sampled pictures",
    "count": "9,000 new varied scenes weighted to counting, with 4,500 sampled pictures and clips",
    "count-focus": "4,000 new varied scenes asking only how many, with 6,000 pictures and clips of the previous mix",
    "count-plain": "4,000 new plain scenes weighted to counting, with 6,000 pictures and clips of the count mix",
    "scenes3d": "3,000 bird's-eye views of synthetic 3D scenes, with 3,500 sampled pictures and clips",
    "scenes3d-plain": "3,000 new plain scenes weighted to counting, with 4,000 views, pictures and clips of the 3D mix",
    "scans3d": "3,000 bird's-eye views of 3D scenes as scanners see them (own shades, tinted floors, one sensor from "
               "any side), with 3,500 sampled pictures and clips",
    "scans3d-plain": "3,000 new plain scenes weighted to counting, with 4,000 views, pictures and clips of the "
                     "scans mix",
    "scans3d-more": "4,000 more scan views, with 5,000 views, pictures and clips of the previous mix",
    "scans3d-more-plain": "3,000 new plain scenes weighted to counting, with 4,000 views, pictures and clips of the "
                          "previous mix",
    "clips-rehearsed": "3,500 clips of the clips mix, with 2,000 bird's-eye views and 2,000 pictures of the clips "
                       "and last 3D mixes",
    "moves": "3,000 new clips where one shape moves (3 in 5) or 1-3 shapes appear, with 4,500 clips, views and "
             "pictures of the previous mix",
    "moves-where": "3,000 new clips where one shape moves (3 in 5), appears or disappears, each moving shape also "
                   "asked which it is and where it starts and ends, with 5,500 clips, views and pictures of the "
                   "previous mix and the last scans mix",
    "moves-where-more": "3,000 more such clips, with 5,500 clips, views and pictures of the previous mix and the "
                        "last scans mix",
    "moves-where-3": "a third round of 3,000 such clips, with 5,500 clips, views and pictures of the previous mix "
                     "and the last scans mix",
    "moves-where-4": "a fourth round of 3,000 such clips, with 5,500 clips, views and pictures of the previous mix "
                     "and the last scans mix",
    "moves-where-5": "a fifth round of 3,000 such clips, with 5,500 clips, views and pictures of the previous mix "
                     "and the last scans mix",
    "moves-changes-where": "3,000 such clips in which a shape that appears or disappears always has still shapes "
                           "beside it, with 5,500 clips, views and pictures of the previous mix and the last scans "
                           "mix",
    "moves-changes-where-2": "a second round of 3,000 such clips, with 5,500 clips, views and pictures of the previous "
                             "mix and the last scans mix",
    "moves-plain": "3,000 new plain scenes weighted to counting, with 4,000 clips, views and pictures of the previous "
                   "mix",
    "changes-presence": "3,000 new clips in which a shape appears or disappears beside still ones (4 in 5) or moves, "
                        "every shape asked where it is at the start and at the end (\"not there\" if it is not "
                        "drawn), with 5,500 clips, views and pictures of the previous mix and the last scans mix",
    "changes-presence-2": "a second round of 3,000 such clips, with 5,500 clips, views and pictures of the previous "
                          "mix and the last scans mix",
    "changes-presence-3": "a third round of 3,000 such clips, with 5,500 clips, views and pictures of the previous "
                          "mix and the last scans mix",
    "changes-missing": "3,000 such clips also asked which shape is not there at the start and at the end, with "
                       "5,500 clips, views and pictures of the previous mix and the last scans mix",
    "changes-missing-2": "a second round of 3,000 such clips, with 5,500 clips, views and pictures of the previous "
                         "mix and the last scans mix",
    "changes-missing-3": "a third round of 3,000 such clips, with 5,500 clips, views and pictures of the previous "
                         "mix and the last scans mix",
    "changes-timeline": "3,000 such clips also asked which shapes are there at the second a shape appears or "
                        "disappears, the second before and one other, with 5,500 clips, views and pictures of the "
                        "previous mix and the last scans mix",
    "changes-timeline-2": "a second round of 3,000 such clips, with 5,500 clips, views and pictures of the previous "
                          "mix and the last scans mix",
    "changes-marker": "3,000 such clips also asked whether each shape is there at a given second (the shape that "
                      "appears or disappears at every second), with 5,500 clips, views and pictures of the previous "
                      "mix and the last scans mix",
    "changes-marker-2": "a second round of 3,000 such clips, with 5,500 clips, views and pictures of the previous "
                        "mix and the last scans mix",
    "turned": "3,000 new varied pictures whose every shape is turned 8-30 degrees, weighted to naming shapes, "
              "with 4,000 clips, views and pictures of the previous mix and the last scans mix",
    "turned-2": "a second round of 3,000 such pictures, with 4,000 clips, views and pictures of the previous mix "
                "and the last scans mix",
    "turned-plain": "3,000 new plain pictures weighted to counting, with 4,000 groups of the previous mix",
    "changes-rehearsed": "3,000 new clips in which a shape appears or disappears beside still ones (4 in 5) or "
                         "moves, with 6,000 clips, views and pictures of the previous mix and the last scans mix "
                         "(2,000 plain or turned pictures)",
    "count-repeated": "3,000 new varied pictures, 7 in 10 of those with two or more shapes in one or two colours "
                      "and kinds, weighted to counting, with 3,000 clips and 3,000 views and pictures of the previous "
                      "mix and the last scans mix",
    "changes-rehearsed-2": "3,000 new clips in which a shape appears or disappears beside still ones (4 in 5) or "
                           "moves, with 6,000 clips, views and pictures of the previous mix and the last scans mix",
    "count-tallied": "4,000 new varied pictures, 7 in 10 of those of two or more shapes in one or two colours and "
                     "kinds, 3 in 5 asked for every box of one colour and one kind and how many there are, with "
                     "7,000 clips, views and pictures of the previous mix, the last scans mix and the last plain "
                     "one",
    "count-tallied-2": "a second round of 4,000 such pictures, 2 in 5 of the tallied ones plain and the kind counted "
                       "any of the five, with 7,500 clips, views and pictures of the previous mix, the last scans "
                       "mix and the last plain one",
    "count-tallied-focus": "5,000 new pictures (2 in 5 plain), every one asked for every box of one colour and one "
                           "kind and how many there are, with 2,000 groups of the previous mix",
    "boxes-varied": "4,000 new varied pictures, 4 in 5 not square, weighted to boxes, with 7,000 clips, views and "
                    "pictures of the previous mix, the last scans mix and the last plain one",
    "boxes-varied-2": "a second round of 4,000 such pictures, with 7,000 clips, views and pictures of the previous "
                      "mix, the last scans mix and the last plain one",
    "boxes-plain": "3,000 new plain pictures weighted to counting, with 4,000 groups of the previous mix",
    "boxes-rehearsed": "3,000 new plain pictures weighted to counting, with 6,000 clips, views and pictures of the "
                       "previous mix, the last clip mix and the last scans mix",
    "boxes-changes": "3,000 such clips (as changes-rehearsed draws), with 6,500 clips, views and "
                     "pictures of the previous mix, the second boxes mix and the last scans mix",
    "boxes-moves": "3,000 new clips (3 in 5 where one shape moves, 2 in 5 where 1-3 shapes appear), with 6,500 "
                   "clips, views and pictures of the previous mix and the last scans mix",
    "boxes-changes-2": "3,000 such clips (as changes-rehearsed draws), with 7,500 clips, views and pictures of the "
                       "previous mix, the second boxes mix and the last scans mix",
    "boxes-changes-3": "3,000 such clips (as changes-rehearsed draws), with 7,500 clips, views and pictures of the "
                       "previous mix, the second boxes mix and the last scans mix",
    "boxes-changes-stills": "3,000 such clips, half of them also a still frame asked yes or no about shapes named "
                            "by colour and shape, with 7,500 clips, views and pictures of the previous mix, the "
                            "second boxes mix and the last scans mix",
    "stills-count": "3,000 new plain pictures weighted to counting, with 6,000 clips, views and pictures of the "
                    "previous mix, the second boxes mix and the last scans mix",
    "stills-rehearsed": "3,000 such clips, half of them also a still frame asked yes or no about shapes named by "
                        "colour and shape, with 8,000 clips, views and pictures of the previous mix, the plain "
                        "counting mix of the boxes line, the second boxes mix and the last scans mix",
    "stills-rehearsed-2": "a second round of 3,000 such clips with stills, with 8,000 clips, views and pictures of "
                          "the previous mix, the plain counting mix of the boxes line, the second boxes mix and the "
                          "last scans mix",
    "stills-pictures": "a third round of 3,000 such clips with stills, with 9,000 clips, views and pictures (4,000 "
                       "of them pictures) of the same four mixes",
    "styles": "2,500 new varied pictures, 4 shapes in 5 bordered or outline-only with wider and lighter borders, "
              "weighted to colour, shape and count, with 8,500 clips, views and pictures of the stills mix, the "
              "plain counting mix of the boxes line, the second boxes mix and the last scans mix",
    "styles-plain": "3,000 new plain pictures weighted to counting, with 6,500 clips, views and pictures of the "
                    "styles mix, the stills mix and the last scans mix",
    "styles-mixed": "5,000 new pictures, half styled as the styles mix's and half plain weighted to counting, with "
                    "8,000 clips, views and pictures of the plain styles mix, the stills mix and the last scans mix",
    "styles-boxes": "3,000 new pictures, half styled and half plain weighted to boxes, with 7,500 clips, views and "
                    "pictures of the mixed styles mix, the stills mix and the last scans mix",
    "styles-memory": "5,000 new pictures as the mixed styles mix draws them, 4 in 5 also asked one question in the "
                     "form memory sends a recalled one (its notes in the system message, the picture attached), "
                     "with 8,000 clips, views and pictures of the plain styles mix, the stills mix and the last scans "
                     "mix",
    "styles-memory-plain": "3,000 new plain pictures weighted to counting, 4 in 5 also asked in memory's recalled "
                           "form, with 6,500 clips, views and pictures of the memory styles mix, the stills mix and "
                           "the last scans mix",
    "styles-memory-2": "5,000 new pictures drawn as the memory styles mix's, with 8,000 clips, views and pictures of "
                       "the plain memory styles mix, the stills mix and the last scans mix",
    "styles-stills": "3,000 new change clips, half of them also a still frame asked yes or no about "
                     "shapes named by colour and shape, with 8,000 clips, views and pictures "
                     "of the second memory styles mix, the plain counting mix of the boxes line, the second boxes "
                     "mix and the last scans mix",
    "styles-stills-2": "a second round of 3,000 such clips with stills, with 8,000 clips, views and pictures of "
                       "the stills styles mix, the plain counting mix of the boxes line, the second boxes mix and "
                       "the last scans mix",
    "styles-stills-3": "a third round of 3,000 such clips with stills, with 8,000 clips, views and pictures of "
                       "the second stills styles mix, the plain counting mix of the boxes line, the second boxes mix "
                       "and the last scans mix",
    "styles-open": "5,000 new pictures as the mixed styles mix draws them, 3 in 5 of those with shapes also "
                   "asked for them in one of 20 other wordings (2 in 5 without a closing mark) and 3 in 10 asked in "
                   "memory's recalled form, with 8,000 clips, views and pictures of the second memory styles mix, "
                   "the first stills styles mix and the last scans mix",
    "styles-open-2": "5,000 new pictures as the mixed styles mix draws them, 3 in 5 of those with shapes also "
                     "asked for them in other words, half of those in one of 16 short requests without \"image\" "
                     "(2 in 5 without a closing mark), and 3 in 10 asked in memory's recalled form, with 8,000 "
                     "clips, views and pictures of the first open mix, the first stills styles mix and the last "
                     "scans mix",
    "styles-open-stills": "3,000 new change clips with stills as the stills styles mix draws them, with 8,000 "
                          "clips, views and pictures of the second open mix, the plain counting mix of the boxes "
                          "line, the second boxes mix and the last scans mix",
    "turned-stills": "3,000 new varied pictures whose every shape is turned 8-30 degrees, weighted to naming shapes, "
                     "with 8,500 clips, views and pictures of the stills open mix, the plain counting mix of the boxes "
                     "line, the second boxes mix and the last scans mix",
    "turned-stills-2": "a second round of 3,000 such pictures, with 8,500 clips, views and pictures of the first "
                       "turned stills mix, the plain counting mix of the boxes line, the second boxes mix and the last "
                       "scans mix",
    "square-stills": "3,000 new varied pictures, 4 in 5 not square, weighted to boxes and naming shapes, with "
                     "8,500 clips, views and pictures of the first turned stills mix, the plain counting mix of the "
                     "boxes line, the second boxes mix and the last scans mix; from this run on every picture is "
                     "stretched to a square before the model sees it",
    "square-turned": "3,000 new varied pictures whose every shape is turned 8-30 degrees, weighted to naming shapes, "
                     "seen square, with 8,500 clips, views and pictures of the first square mix, the plain counting "
                     "mix of the boxes line, the second boxes mix and the last scans mix",
    "hexagons": "3,000 new varied pictures, 4 in 5 not square, whose shapes are hexagons three times in eight and "
                "circles twice, weighted to naming shapes, seen square, with 8,500 clips, views and pictures of the "
                "first square mix, the plain counting mix of the boxes line, the second boxes mix and the last scans "
                "mix",
    "hexagons-2": "a second round of 3,000 such pictures, with 8,500 clips, views and pictures of the first hexagons "
                  "mix, the plain counting mix of the boxes line, the second boxes mix and the last scans mix",
    "hexagons-3": "a third round of 3,000 such pictures, with 8,500 clips, views and pictures of the second hexagons "
                  "mix, the plain counting mix of the boxes line, the second boxes mix and the last scans mix",
    "hexagons-plain": "3,000 new plain pictures weighted to counting, 4 in 5 also asked in memory's recalled form, "
                      "with 6,500 clips, views and pictures of the third hexagons mix, the plain counting mix of the "
                      "boxes line and the last scans mix",
    "hexagons-4": "a fourth round of 3,000 hexagon pictures, with 8,500 clips, views and pictures of the plain "
                  "hexagons mix, the plain counting mix of the boxes line, the second boxes mix and the last scans mix",
    "changes-lead": "3,000 such clips cut from a longer recording (0-9 s before it, none for 1 in 10; the markers "
                    "reading its time), with 6,000 clips, views and pictures of the previous mix and the last scans "
                    "mix",
    "changes-clock": "3,000 such clips also asked which second the first and the last marker read, with 6,000 "
                     "clips, views and pictures of the previous mix and the last scans mix",
}
