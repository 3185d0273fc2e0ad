"""Words for LIMIT-style datasets: people's names and the things they like.

Every attribute is one word (one token for BM25's analyzer), so "Who likes X?" names exactly
one term besides "who" and "likes"; no name shares a word with an attribute. A test checks
that no two words collide under Pyserini's Porter-stemming analyzer (``Skateboards`` and
``Skateboarding`` would). When a dataset needs more words than these lists hold,
:func:`pseudo_words` makes pronounceable new ones from a seeded generator.
"""

from __future__ import annotations

import random

_ATTRIBUTES = """
Apples Apricots Avocados Bananas Blackberries Blueberries Cantaloupes Cherries Clementines Coconuts
Cranberries Dates Dragonfruit Durians Figs Gooseberries Grapefruit Grapes Guavas Kiwis Kumquats Lemons
Limes Lychees Mangoes Mangosteens Melons Mulberries Nectarines Olives Oranges Papayas Passionfruit
Peaches Pears Persimmons Pineapples Plums Pomegranates Quinces Raspberries Rhubarb Starfruit
Strawberries Tangerines Watermelons Artichokes Arugula Asparagus Beetroot Broccoli Cabbages
Carrots Cauliflower Celery Chard Chickpeas Chives Cucumbers Eggplants Endives Fennel Garlic Ginger Kale
Leeks Lentils Lettuce Mushrooms Okra Onions Parsnips Peas Peppers Potatoes Pumpkins Radishes Shallots
Spinach Turnips Yams Zucchini Basil Cilantro Cinnamon Cloves Cumin Dill Nutmeg Oregano Paprika Parsley
Rosemary Saffron Thyme Turmeric Vanilla Cardamom Mint Almonds Cashews Chestnuts Hazelnuts Peanuts
Pecans Pistachios Walnuts Macadamias Sesame Bagels Baguettes Biscuits Brownies Burritos Cheesecake
Chocolate Cookies Croissants Cupcakes Donuts Dumplings Enchiladas Falafel Fondue Granola Hamburgers
Hummus Lasagna Muffins Nachos Noodles Omelettes Pancakes Pasta Pizza Popcorn Pretzels Quesadillas Ramen
Ravioli Risotto Salads Sandwiches Sausages Scones Soup Spaghetti Sushi Tacos Tamales Tiramisu Tofu
Waffles Yogurt Caramel Marshmallows Lollipops Licorice Gingerbread Paella Goulash Curry Kebabs Samosas
Pierogi Gnocchi Tortillas Crepes Custard Pudding Porridge Oatmeal Cereal Cheese Honey Jam Ketchup
Mustard Mayonnaise Pickles Salsa Guacamole Wasabi Kimchi Sauerkraut Bacon Steak Salmon Tuna Shrimp
Lobsters Oysters Clams Mussels Scallops Crabs Sardines Anchovies Caviar Meatballs Pastrami Salami
Pepperoni Prosciutto Brisket Tempura Teriyaki Baklava Churros Macarons Meringue Nougat Fudge Truffles
Sorbet Gelato Sundaes Milkshakes Smoothies Lemonade Coffee Tea Cocoa Espresso Cappuccinos Lattes
Kombucha Cider Aardvarks Albatrosses Alligators Alpacas Anteaters Antelopes Armadillos Baboons Badgers
Barracudas Bats Beavers Bison Bobcats Buffalo Butterflies Camels Capybaras Caribou Cats Chameleons
Cheetahs Chickens Chimpanzees Chinchillas Chipmunks Cobras Cougars Cows Coyotes Crocodiles Crows Deer
Dingoes Dogs Dolphins Donkeys Doves Dragonflies Ducks Eagles Eels Elephants Elk Emus Falcons Ferrets
Finches Flamingos Foxes Frogs Gazelles Geckos Gerbils Giraffes Goats Gorillas Hamsters Hares Hawks
Hedgehogs Herons Hippos Hornets Horses Hummingbirds Hyenas Iguanas Impalas Jackals Jaguars Jellyfish
Kangaroos Koalas Ladybugs Lemurs Leopards Lions Lizards Llamas Lynxes Macaws Magpies Manatees Meerkats
Moles Mongooses Monkeys Moose Moths Narwhals Newts Nightingales Ocelots Octopuses Opossums Orangutans
Orcas Ospreys Ostriches Otters Owls Oxen Pandas Panthers Parrots Peacocks Pelicans Penguins Pheasants
Pigeons Pigs Platypuses Porcupines Pufferfish Puffins Pumas Quail Quokkas Rabbits Raccoons
Rattlesnakes Ravens Reindeer Rhinos Roosters Salamanders Scorpions Seahorses Seals Sharks Sheep Skunks
Sloths Snails Sparrows Spiders Squirrels Starfish Stingrays Storks Swans Tapirs Tarantulas Termites
Tigers Toads Toucans Turkeys Turtles Vultures Walruses Warthogs Wasps Weasels Whales Wolves Wombats
Woodpeckers Yaks Zebras Axolotls Beetles Bees Caterpillars Centipedes Cicadas Fireflies Grasshoppers
Cockatoos Canaries Cormorants Goldfish Guppies Herring Kingfishers Koi Krill Lemmings Marmots Minks
Mules Ponies Pythons Roadrunners Sandpipers Shrews Tortoises Wolverines Wildebeest Vipers Archery
Badminton Ballet Baseball Basketball Birdwatching Bowling Boxing Calligraphy Camping Canoeing Chess
Climbing Crochet Cycling Dancing Darts Diving Embroidery Fencing Fishing Football Gardening Golf
Gymnastics Hiking Hockey Jogging Juggling Karaoke Karate Kayaking Knitting Lacrosse Meditation Origami
Painting Photography Pilates Poetry Pottery Quilting Rafting Rowing Rugby Sailing Sculpting Sewing
Skateboarding Skating Skiing Skydiving Snorkeling Snowboarding Soccer Softball Stargazing Surfing
Swimming Tennis Volleyball Weightlifting Wrestling Yoga Sudoku Crosswords Puzzles Bingo Poker
Backgammon Dominoes Checkers Scrabble Mahjong Billiards Snooker Polo Curling Bobsledding Biathlon
Triathlons Marathons Parkour Judo Taekwondo Kickboxing Sumo Handball Netball Frisbee Hopscotch Kites
Woodworking Welding Blacksmithing Beekeeping Baking Brewing Winemaking Foraging Geocaching Orienteering
Ventriloquism Magic Improv Opera Jazz Blues Reggae Tango Waltzes Flamenco Polka Disco Techno Bluegrass
Gospel Podcasts Documentaries Cartoons Anime Comics Novels Mysteries Westerns Musicals Sitcoms
Accordions Bagpipes Banjos Bassoons Cellos Clarinets Cymbals Drums Fiddles Flutes Guitars Harmonicas
Harps Harpsichords Mandolins Marimbas Oboes Organs Pianos Piccolos Saxophones Sitars Tambourines
Trombones Trumpets Tubas Ukuleles Violins Xylophones Zithers Didgeridoos Kazoos Bongos Castanets
Glockenspiels Lutes Ocarinas Synthesizers Triangles Gongs Anchors Balloons Bicycles Binoculars
Blankets Bookmarks Boomerangs Bottles Bracelets Buttons Calculators Calendars Candles Carousels
Chandeliers Clocks Compasses Crayons Crystals Cushions Diamonds Dictionaries Dice Dollhouses Doorknobs
Earrings Envelopes Fountains Globes Gloves Hammocks Hammers Hats Helmets Hourglasses Jewelry
Kaleidoscopes Keychains Lamps Lanterns Lighthouses Locomotives Magnets Maps Marbles Microscopes Mirrors
Mittens Motorcycles Necklaces Notebooks Paintbrushes Parachutes Pencils Pendulums Pillows Postcards
Quills Radios Ribbons Rockets Sailboats Scarves Scissors Seashells Slippers Snowglobes Sneakers Spoons
Stamps Statues Stopwatches Sunglasses Suitcases Surfboards Swings Teacups Teapots Telescopes
Thermometers Tiaras Trains Trampolines Trophies Typewriters Umbrellas Vases Wallets Watches Whistles
Windmills Yachts Yoyos Zeppelins Airplanes Ambulances Armchairs Backpacks Barometers Baskets Bathtubs
Beanbags Bells Birdhouses Blenders Bonsai Bookshelves Boots Bowties Bricks Brooms Buckets Cameras
Candelabras Carpets Castles Cathedrals Chairs Chopsticks Cloaks Coins Combs Cranes Crowns Cufflinks
Curtains Daggers Dumbbells Easels Elevators Escalators Feathers Fireworks Flags Flashlights Fossils
Gadgets Gemstones Goggles Gramophones Harpoons Headphones Hovercraft Igloos Jigsaws Kettles Keyboards
Ladders Lockets Magnifiers Mailboxes Mannequins Mosaics Mugs Napkins Paperweights Pinwheels Pyramids
Robots Rugs Saddles Sandals Satellites Scooters Sculptures Skyscrapers Sleds Snowmen Spaceships
Submarines Sundials Tablecloths Tapestries Tents Thimbles Tractors Tricycles Tuxedos Vinyl Wagons
Wheelbarrows Wreaths Zippers Beaches Canyons Caves Cliffs Deserts Forests Glaciers Islands Jungles
Lagoons Lakes Meadows Mountains Oceans Prairies Rivers Savannas Swamps Tundras Valleys Volcanoes
Waterfalls Geysers Oases Reefs Fjords Marshes Dunes Icebergs Orchards Vineyards Parks Libraries Museums
Bakeries Cafes Circuses Zoos Aquariums Observatories Planetariums Farms Harbors Bridges Tunnels Railways
Palaces Temples Ruins Monuments Stadiums Theaters Cinemas Galleries Markets Carnivals Festivals Parades
Sunsets Sunrises Thunderstorms Snowflakes Rainbows Auroras Comets Constellations Eclipses Galaxies
Meteors Nebulas Planets Asteroids Moonlight Fog Breezes Blizzards Tornadoes Hurricanes Puddles Pebbles
Boulders Tulips Roses Daisies Lilies Orchids Sunflowers Daffodils Lavender Marigolds Peonies Poppies
Violets Magnolias Dandelions Cacti Ferns Mosses Bamboo Oaks Maples Willows Pines Redwoods Palms Cedars
Birches Cypresses Sequoias Hydrangeas Carnations Chrysanthemums Begonias Geraniums Irises Jasmine
Lotuses Azaleas Camellias Gardenias Hibiscus Zinnias Clovers Succulents Seaweed Lichens Algebra Anatomy
Anthropology Archaeology Architecture Astronomy Biology Botany Calculus Chemistry Economics Genealogy
Geography Geology Geometry History Linguistics Literature Mathematics Meteorology Mythology
Oceanography Paleontology Philosophy Physics Psychology Sociology Statistics Theology Trigonometry
Zoology Cryptography Entomology Ornithology Topology Buses Convertibles Ferries Gondolas Helicopters
Jeeps Limousines Minivans Rickshaws Sedans Steamboats Taxis Trams Trucks Unicycles Blimps Crimson
Turquoise Magenta Teal Indigo Maroon Beige Lilac Scarlet Emeralds Sapphires Rubies Opals Pearls Topaz
Jade Garnets Amethysts Quartz Onyx Obsidian Granite Velvet Silk Denim Corduroy Linen Satin Tweed
Cashmere Flannel Wool Lace Leather Suede
Pralines Cobbler Flapjacks Crumpets Strudel Eclairs Cannoli Focaccia Ciabatta Brioche Pita Naan
Couscous Quinoa Polenta Barley Rice Tapioca Mochi Edamame Miso Tahini Pesto Chutney Relish Gravy
Marmalade Molasses Syrup Toffee Butterscotch Marzipan Jellybeans Gumdrops Taffy Sprinkles Popsicles Pies
Tarts Kohlrabi Rutabagas Jicama Celeriac Watercress Radicchio Scallions Jalapenos Habaneros Tomatoes
Corn Mantises Earthworms Slugs Clownfish Swordfish Marlins Catfish Trout Carp Piranhas Barnacles
Sponges Corals Urchins Anemones Plankton Hyraxes Okapis Pangolins Dugongs Gibbons Mandrills Tamarins
Kinkajous Coatis Quetzals Hoopoes Kookaburras Lorikeets Budgies Cassowaries Rheas Condors Kestrels
Buzzards Grouse Partridges Swallows Wrens Larks Starlings Orioles Cardinals Bluejays Warblers Plovers
Egrets Ibises Gulls Terns Loons Grebes Anacondas Boas Mambas Skinks Tadpoles Abacuses Aprons Bandanas
Berets Blazers Bonnets Cardigans Corsets Fedoras Kimonos Overalls Pajamas Parkas Ponchos Sombreros
Sweaters Turbans Waistcoats Moccasins Clogs Loafers Brooches Pendants Anklets Monocles Spectacles
Chisels Pliers Wrenches Screwdrivers Shovels Rakes Trowels Anvils Pulleys Levers Funnels Ladles Whisks
Spatulas Colanders Skillets Woks Saucepans Toasters Thermoses Jugs Pitchers Goblets Chalices Tankards
Flasks Canteens Pinball Foosball Croquet Charades Kickball Dodgeball Squash Racquetball Pickleball
Bocce Shuffleboard Canasta Solitaire Cribbage Rummy Symphonies Sonatas Concertos Lullabies Ballads
Madrigals Operettas Cantatas Serenades Hymns Anthems Shanties Yodeling Beatboxing
"""

_FIRST_NAMES = """
Aaron Abigail Adam Adrian Agnes Alan Albert Alice Allison Alvin Amanda Andrea Andrew Angela Anita Ann
Anthony Arthur Audrey Barbara Beatrice Benjamin Bernard Bethany Beverly Blake Brandon Brenda Brian
Bridget Bruce Bryan Caleb Calvin Carl Carla Carmen Carol Caroline Catherine Cecilia Cedric Charles
Charlotte Chester Christina Christopher Claire Clara Claude Clayton Colin Connor Cynthia Dale Damian
Dana Daniel Darren David Deborah Dennis Derek Diana Dominic Donald Doris Dorothy Douglas Dylan Edgar
Edith Edmund Edward Eileen Elaine Eleanor Elena Elijah Eliza Ellen Elliot Eloise Emil Emily Emma Eric
Erica Ernest Esther Ethan Eugene Evan Evelyn Felix Fiona Florence Frances Francis Frank Frederick
Gabriel Gavin Geneva Geoffrey George Georgia Gerald Gillian Gloria Gordon Grace Graham Gregory Gwen
Hannah Harold Harriet Harvey Heather Helen Henry Herbert Howard Hugo Ian Ingrid Irene Isaac Isabel Ivan
Jack Jacob Jane Janet Jason Jasper Jean Jeffrey Jennifer Jeremy Jessica Joan Joel John Jon
Jonathan Joseph Joshua Joyce Judith Julia Julian Justin Karen Katherine Keith Kenneth Kevin Laura
Lauren Lawrence Leah Leonard Leslie Lewis Lillian Linda Lionel Lois Louise Lucas Lucy Luke Lydia
Madeline Malcolm Marcus Margaret Maria Marion Martha Martin Matthew Maurice Megan Melvin Michael
Miranda Miriam Molly Monica Morgan Nadia Nancy Naomi Nathan Neil Nicholas Nina Noah Nora Norman
Oscar Owen Patricia Patrick Paul Pauline Peter Philip Phoebe Priscilla Rachel Ralph Raymond Rebecca
Regina Richard Robert Robin Roger Roland Ronald Rosalind Russell Ruth Ryan Samuel Sandra Sarah Scott
Sean Sebastian Sharon Sheila Simon Sophia Stanley Stella Stephen Steven Stuart Susan Sylvia Teresa
Theodore Thomas Timothy Tobias Trevor Ursula Valerie Vanessa Vera Victor Vincent Walter Wanda Warren
Wendy Wesley William Winifred Xavier Yvonne Zachary Zoe
"""

_LAST_NAMES = """
Abbott Ackerman Aldridge Allenby Ambrose Ashford Atwood Bancroft Barlow Barnaby Beckett Bellamy
Benning Blackwood Blythe Bradshaw Brennan Brightwell Broderick Burnham Calloway Carmody Carrington
Chadwick Chambers Chandler Clements Colby Conway Corbett Cranston Crawford Dalton Danvers Darrow
Davenport Delaney Dempsey Donnelly Dorsey Draper Dunbar Durben Eastman Eckhart Edmonds Ellery Ellison
Emerson Everett Fairbanks Farley Fenwick Fielding Finley Fitzgerald Fleming Fletcher Forsyth Foster
Fowler Franklin Galloway Garrison Gideon Gilbert Gladwell Goddard Goodwin Granger Greaves Griffin
Hadley Halloway Hamlin Harcourt Harding Harlow Hartley Hastings Hawthorne Hayward Hendricks Hillard
Holloway Holt Horton Hudson Humphrey Huxley Ingram Irving Jamison Jarvis Jennings Kavanagh Kendall
Kensington Kerrigan Kimball Kingsley Kirkland Lambert Langley Larkin Lawson Lennox Lindqvist Lockhart
Lombard Lowell Lyndon Mackenzie Maddox Mallory Marlow Marsden Maxwell McAllister McCready Merriweather
Middleton Montague Moreland Morrow Mortimer Nash Newcombe Norwood Oakley Ogden Oldham Osborne
Pemberton Pendleton Perkins Pickering Porter Prescott Quimby Radcliffe Ramsey Randall Ravenscroft
Redford Remington Ridley Rockwell Rowland Rutherford Sanderson Sawyer Sedgwick Sherwood Shelby
Sinclair Slater Somerset Spalding Stafford Stanton Sterling Stockton Sutherland Talbot Tennant
Thackeray Thornton Tilbury Townsend Trelawney Tremaine Underwood Upton Vance Vaughan Wainwright
Wakefield Waldron Warwick Waverly Webster Wellington Wentworth Whitaker Whitfield Whitmore Wilder
Winslow Winthrop Woodward Worthington Wyatt Yardley Yates Yorke Zimmerman
"""


def _words(block: str) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for word in block.split():
        seen.setdefault(word.lower(), word)
    return tuple(seen.values())


ATTRIBUTES = _words(_ATTRIBUTES)
FIRST_NAMES = _words(_FIRST_NAMES)
LAST_NAMES = _words(_LAST_NAMES)

_ONSETS = ("b", "br", "d", "dr", "f", "g", "gr", "k", "kl", "l", "m", "n", "p", "pl", "r", "s", "st", "t",
           "tr", "v", "z")
_VOWELS = ("a", "e", "i", "o", "u", "ou", "ai")
_CODAS = ("", "", "n", "r", "l", "m")


def pseudo_words(count: int, rng: random.Random, avoid: set[str], syllables: int = 3) -> list[str]:
    """``count`` distinct pronounceable made-up words (``Zoubrelan``), none of them in ``avoid``
    (compared lowercased; words already made are added to it). All end in a consonant-vowel-n
    pattern that stemmers leave alone, so two of them never reduce to the same stem."""
    out: list[str] = []
    tries = 0
    while len(out) < count:
        tries += 1
        if tries > 1000 * (count + 10):
            raise RuntimeError(f"could not make {count} distinct pseudo-words")
        word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables - 1))
        word += rng.choice(_ONSETS) + rng.choice(("a", "o", "i")) + "n"
        if word in avoid:
            continue
        avoid.add(word)
        out.append(word.capitalize())
    return out
