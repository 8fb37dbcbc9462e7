"""Names the synthetic population is drawn from (common European names; nobody in particular)."""

from __future__ import annotations

FEMALE_GIVEN = (
    "Aino", "Alice", "Amelia", "Anna", "Anni", "Astrid", "Beata", "Birgit", "Carla", "Clara",
    "Dagny", "Daria", "Diana", "Edith", "Elena", "Elisa", "Ella", "Elsa", "Emilia", "Emma", "Eva",
    "Freya", "Greta", "Hanna", "Helena", "Helmi", "Ida", "Ilona", "Ines", "Ingrid", "Irene",
    "Iris", "Jana", "Johanna", "Julia", "Karin", "Katarina", "Kaisa", "Klara", "Laura", "Lea",
    "Lena", "Liisa", "Lina", "Linnea", "Liv", "Lotta", "Lucia", "Maria", "Marta", "Maja", "Mila",
    "Mira", "Nadia", "Nora", "Olga", "Paula", "Petra", "Rita", "Ronja", "Rosa", "Ruth", "Saga",
    "Sara", "Selma", "Signe", "Sofia", "Sonja", "Stella", "Tea", "Tiina", "Tuuli", "Ulla", "Vera",
    "Viola", "Wilma", "Ylva", "Zoe", "Agnes", "Marit",
)  # fmt: skip

MALE_GIVEN = (
    "Aarne", "Adam", "Albert", "Aleksander", "Anders", "Andres", "Anton", "Arvid", "Axel",
    "Benjamin", "Bruno", "Carl", "Daniel", "David", "Edgar", "Eero", "Elias", "Emil", "Erik",
    "Filip", "Frans", "Georg", "Gustav", "Hannes", "Harald", "Henrik", "Hugo", "Ivan", "Jakob",
    "Jan", "Johan", "Jonas", "Juhan", "Kaarel", "Karl", "Kasper", "Kristjan", "Lars", "Leo",
    "Linus", "Lukas", "Magnus", "Marko", "Markus", "Martin", "Matias", "Mikael", "Niklas", "Nils",
    "Olav", "Oliver", "Oskar", "Otto", "Paul", "Peeter", "Rasmus", "Robert", "Rolf", "Samuel",
    "Sander", "Sebastian", "Simon", "Sten", "Sven", "Teodor", "Thomas", "Tobias", "Tomas",
    "Toomas", "Ulf", "Urmas", "Valter", "Viktor", "Vilhelm", "Villem", "Voldemar", "William",
    "Aron", "Eino", "Ivar",
)  # fmt: skip

FAMILY = (
    "Aalto", "Alder", "Andersen", "Arvola", "Aspen", "Berg", "Bergman", "Birch", "Blom", "Brandt",
    "Brook", "Carlsen", "Dahl", "Dale", "Eklund", "Ek", "Elm", "Engel", "Falk", "Fischer",
    "Fjord", "Forsman", "Frost", "Gray", "Grove", "Hagen", "Hall", "Halme", "Hansen", "Heath",
    "Hedman", "Hill", "Holm", "Holt", "Hunter", "Ilves", "Isaksen", "Jansen", "Jensen", "Juhl",
    "Kallas", "Karlsson", "Kask", "Kivi", "Klein", "Koch", "Koivu", "Kuusk", "Lange", "Larsen",
    "Laur", "Lehto", "Lind", "Lindqvist", "Lepp", "Lodge", "Lund", "Maasik", "Mand", "Marsh",
    "Meri", "Mets", "Meyer", "Mill", "Moor", "Moss", "Munk", "Mustonen", "Naber", "Nielsen",
    "Nord", "Nyberg", "Oak", "Olsen", "Orav", "Ots", "Paju", "Park", "Pedersen", "Pihl",
    "Poll", "Post", "Quist", "Raud", "Reed", "Rebane", "Ring", "Rock", "Roos", "Rose",
    "Saar", "Sand", "Sepp", "Sild", "Sommer", "Stone", "Strand", "Sund", "Tamm", "Thorn",
    "Toom", "Tuul", "Uibo", "Vaher", "Vale", "Vall", "Vesik", "Wald", "Webb", "West",
    "Wolf", "Wood", "Aus", "Hein", "Jogi", "Kukk", "Lill", "Mägi", "Nurm", "Pärn",
    "Rand", "Soo", "Talvik", "Valk", "Veski", "Kuningas", "Ahlberg", "Berglund", "Ström", "Winter",
)  # fmt: skip

#: Birthplaces abroad of people who immigrated.
FOREIGN_BIRTHPLACES = (
    ("Riga", "LV"), ("Helsinki", "FI"), ("Tallinn", "EE"), ("Vilnius", "LT"), ("Warsaw", "PL"),
    ("Kyiv", "UA"), ("Stockholm", "SE"), ("Berlin", "DE"), ("Lisbon", "PT"), ("Dublin", "IE"),
)  # fmt: skip

BUSINESS_WORDS = (
    "Logistics", "Bakery", "Builders", "Consulting", "Design", "Electric", "Engineering", "Farms",
    "Foods", "Forestry", "Furniture", "Garage", "Health", "Holdings", "Hotels", "Industries",
    "Instruments", "Joinery", "Kitchens", "Labs", "Media", "Metals", "Motors", "Optics",
    "Pharmacy", "Plumbing", "Print", "Retail", "Software", "Solar", "Studio", "Textiles",
    "Timber", "Tools", "Trading", "Transport", "Travel", "Water", "Wind", "Works",
)  # fmt: skip
